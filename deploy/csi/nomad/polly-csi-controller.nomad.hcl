# Polly's CSI controller for Nomad when Polly does not run as a Mesos framework (otherwise point
# Nomad at the controller `polly start` serves). Nomad gives the task its socket in CSI_ENDPOINT;
# Polly's state lives on the host it runs on (pin it there with a constraint).
job "polly-csi-controller" {
  type = "service"

  group "controller" {
    count = 1

    task "plugin" {
      driver = "docker"

      config {
        image   = "polly:0.1.0"
        args    = ["csi", "controller", "--config", "/etc/polly/config.yml"]
        volumes = ["/var/lib/polly:/var/lib/polly", "/etc/polly:/etc/polly:ro"]
      }

      csi_plugin {
        id        = "polly"
        type      = "controller"
        mount_dir = "/csi"
      }

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}

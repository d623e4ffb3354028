# Polly's CSI node service on every Nomad client (a system job). Nomad gives the task its plugin
# socket in CSI_ENDPOINT, which `polly csi node` reads. The node ID is the client's host name, so on
# hosts that are also Mesos agents CSI and Mesos claims are claims on the same Polly agent.
job "polly-csi-node" {
  type = "system"

  group "node" {
    task "plugin" {
      driver = "docker"

      config {
        image      = "polly:0.1.0"
        args       = ["csi", "node", "--config", "/etc/polly/config.yml", "--node-id", "${attr.unique.hostname}"]
        privileged = true
        # The shared vfs root, at the same path as on the controller's host.
        volumes = ["/var/lib/polly/vfs:/var/lib/polly/vfs", "/etc/polly:/etc/polly:ro"]
      }

      csi_plugin {
        id        = "polly"
        type      = "node"
        mount_dir = "/csi"
      }

      resources {
        cpu    = 100
        memory = 128
      }
    }
  }
}

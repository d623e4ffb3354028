# `nomad volume create volume.hcl`: Nomad calls Polly's CreateVolume (the name is the idempotency
# key); parameters choose the Polly service and profile.
id        = "pg-data"
name      = "pg-data"
type      = "csi"
plugin_id = "polly"

capacity_min = "10GiB"
capacity_max = "20GiB"

capability {
  access_mode     = "single-node-writer"
  attachment_mode = "file-system"
}

parameters {
  service = "local"
  profile = "default"
}

topology_request {
  required {
    topology { segments { "topology.polly.io/zone" = "zone-a" } }
  }
}

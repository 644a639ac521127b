# {{ header }}

variable "queue" {
  description = "The dead-letter queue: physical name and message retention in seconds."
  type = object({
    name                      = string
    message_retention_seconds = number
  })
}

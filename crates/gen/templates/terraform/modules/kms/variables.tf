# {{ header }}

variable "name" {
  description = "The pipeline's name: the key's alias is alias/<name>."
  type        = string
}

// placeholder: written in a later step

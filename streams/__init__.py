"""distillguard Faust application and command line."""

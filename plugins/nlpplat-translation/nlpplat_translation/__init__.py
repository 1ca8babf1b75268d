"""Machine translation for nlpplat (task ``translation``)."""

"""What the archive says about how you use local models: `ollm stats`."""

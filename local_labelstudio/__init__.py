"""A real Label Studio on this machine, for the Label Studio review backend's tests and demos."""

"""The people and data around the services: the scripted reviewer, the reviewer API it and the demo
answer loops through, and the generator of sample images that carry their own ground truth."""

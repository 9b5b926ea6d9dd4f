"""At the beamline: frames as they arrive — hit finding, streams, live monitoring."""

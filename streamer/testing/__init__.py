"""Tools for users' tests and the demo: a local replay server and a simulated SwimOS feed."""

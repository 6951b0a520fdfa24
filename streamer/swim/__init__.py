"""SwimOS streams: downlinks, operators and sandboxed generated operators."""

"""Cost models: energy and area of the hardware, latency of MPC protocols over networks."""

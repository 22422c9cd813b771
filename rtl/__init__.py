"""Amaranth RTL of hwsim's hardware units, Verilog export and synthesis statistics."""

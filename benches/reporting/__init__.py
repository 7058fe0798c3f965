"""The pieces of `benches/report`: steps, parsing, targets, tables and plots."""

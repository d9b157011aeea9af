"""Attack families from issue 14: each file keeps one family, each test a reproduction that broke once."""

"""A small library service (authors, books, reviews): the application the harness is proven on."""

"""Query counts: what the code under test sends (`recorder`), checks and the N+1 report
(`report`), and their pytest hooks (`plugin`). Nothing is imported until used."""

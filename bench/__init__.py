"""Side-by-side benchmark of this project against its peers on a local moto server (issue 4)."""

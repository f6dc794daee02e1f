"""HTTP routes: parse, call the service, render. Status codes are chosen here and nowhere else."""

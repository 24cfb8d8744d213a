"""sims: torch simulations of teachers, students and progressive distillation."""

"""pdistill: the command line, above every layer (parity_theory, curriculum, sims, paper_checks).

``pdistill <command> ...`` dispatches to the function that owns each command; imports are lazy, so
``pdistill bounds`` never imports torch.
"""

"""The simulated floor behind ``rushline demo``: order stream and floor runs."""

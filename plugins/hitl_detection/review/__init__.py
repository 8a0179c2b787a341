"""Human review behind one small interface, so the DAG does not care who reviews."""

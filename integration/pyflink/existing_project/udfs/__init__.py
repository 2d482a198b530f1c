# A PyFlink team's own user-defined functions (the "existing project" fixture
# of integration/pyflink/test_existing_project.py).

import predictor as myapp

# The WSGI entry point gunicorn loads, as in the classic example.
app = myapp.app

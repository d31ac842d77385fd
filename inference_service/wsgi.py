"""WSGI entry point for gunicorn: `gunicorn -c inference_service/gunicorn_conf.py inference_service.wsgi:app`.

Imported by each worker after fork (preload_app is off), so the model loader thread and
TensorFlow start inside the worker.
"""

from inference_service import create_app

app = create_app()

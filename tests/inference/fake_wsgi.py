"""WSGI app serving the fake pipeline, for gunicorn tests that need no TensorFlow:
`gunicorn -c inference_service/gunicorn_conf.py tests.inference.fake_wsgi:app`."""

from inference_service import create_app
from tests.inference.fakes import FakeSource

app = create_app({"MODEL_SOURCE": FakeSource()})

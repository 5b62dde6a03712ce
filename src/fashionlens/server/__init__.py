"""The HTTP API and web app: `fashionlens.server.app.create_app` (FastAPI; ``fashionlens serve``).

Routes only decode the request, call a library service and encode the result. FastAPI and
uvicorn are optional: ``pip install 'fashionlens[serve]'``.
"""

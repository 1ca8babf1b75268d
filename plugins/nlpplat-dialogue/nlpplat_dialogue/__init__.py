"""Dialogue for nlpplat: response generation (``dialogue``) and dialogue acts (``dialogue-act``)."""

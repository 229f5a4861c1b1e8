"""llama.cpp RPC: `hub worker` lends this machine to a model served by another hub."""

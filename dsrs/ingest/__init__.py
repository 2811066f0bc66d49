"""The parts of ingestion (dsrs.ingestion is the service that runs them): the thread pipeline
and the reading of a DSR file into validated COPY text."""

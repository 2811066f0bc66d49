"""Where the HTTP API lives: `views.py` and `serializers.py` answer the contract's paths (/dsrs/,
/dsrs/{id}, /resources/percentile/{number}), `imports.py` and `import_serializers.py` the uploads
(/imports/), `urls.py` routes them. Views are thin: parse the input, call one function of the
services below, render."""

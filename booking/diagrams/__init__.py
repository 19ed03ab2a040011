"""`booking diagrams`: the design's four UML views, generated, never drawn by hand.

- component (`components.py`): every service of config/processes.yaml, found by
  importing its class: its RPC methods, the services it calls, the events it emits
  and handles, its database, the broker, the bank and the mail server;
- deployment (`deployment.py`): the local stack (config/processes.yaml, config.yaml)
  and the cluster layout (config/deploy/kubernetes/);
- sequence (`sequence.py`): one real booking, from the JSON logs of a run;
- package (`packages.py`): the project's packages and their imports.

Each is PlantUML text (`.puml`) rendered to SVG by PlantUML from the OS packages;
`render.py` writes both under docs/diagrams/. tests/unit/test_diagrams.py fails
when the committed ones differ from what the code says today.
"""

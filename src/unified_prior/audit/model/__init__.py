"""The model of what a script does, built from its syntax tree in layers, each its own module:

* :mod:`.tree` indexes the parsed tree (parents, nodes by type, loops and branches around a node);
* :mod:`.symbols` resolves names and ``self.attr`` chains to variables, and instances to classes;
* :mod:`.calls` resolves calls to functions and methods of this file, parameters and returns;
* :mod:`.flows` follows an object through names, calls, returns and containers, and records
  where it is handed to code we cannot see;
* :mod:`.objects` recognises optimizers, schedulers (library, project factories, subclasses of
  ``LRScheduler``), their ``step()`` calls and state loads.

Why our own model over ``ast`` rather than astroid or beniget: the audit must stay ≥ 10× faster
than TorchFix (``bench/audit.py``); astroid's inference alone costs more per line than
TorchFix's whole libcst pipeline, and its answers for training code (``config = mgr.create(...)``
inferring ``Uninferable`` or every branch's dict) add noise the rules would have to filter.
beniget gives def-use chains but no calls, returns or instances, which is most of what the rules
ask. The questions here are few and narrow (which object reaches which call), so a direct model
over the tree answers them in one pass plus lazy, memoised look-ups.
"""

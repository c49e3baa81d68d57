"""CDK app entry points for the catalog (installed as ``mlblueprints.apps``)."""

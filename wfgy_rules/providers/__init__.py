"""Fact providers: plugins that gather one named object of JSON facts each."""

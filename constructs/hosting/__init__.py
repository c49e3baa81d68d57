"""Hosting: a static site served privately through CloudFront."""

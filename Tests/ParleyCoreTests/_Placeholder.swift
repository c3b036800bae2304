enum _PlaceholderParleyCoreTests {}

enum _PlaceholderParleyRealtime {}

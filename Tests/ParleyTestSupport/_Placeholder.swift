enum _PlaceholderParleyTestSupport {}

enum _PlaceholderParleyAppTests {}

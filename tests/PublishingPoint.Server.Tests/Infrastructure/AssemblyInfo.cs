// Each test starts its own server and ffmpeg processes; on two cores, a few at a time keeps real-time pushes honest.
[assembly: CollectionBehavior(MaxParallelThreads = 3)]

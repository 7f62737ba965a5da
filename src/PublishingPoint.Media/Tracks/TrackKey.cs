namespace PublishingPoint.Media.Tracks;

/// <summary>How Smooth clients address a track: the stream name ("video", "audio") and the bitrate.</summary>
public readonly record struct TrackKey(string Name, int Bitrate)
{
    public override string ToString() => $"{Name}@{Bitrate}";
}

namespace PublishingPoint.Media.Smooth;

/// <summary>A chunk of a StreamIndex: start time and duration on the stream's timescale.</summary>
/// <param name="Content">For a sparse stream with ManifestOutput, the chunk's data, written in the manifest as &lt;f&gt; (base64).</param>
public readonly record struct Chunk(long Time, long Duration, byte[]? Content = null);

/// <summary>MS-SSTR 2.2.2.5 QualityLevel.</summary>
public sealed record ClientQualityLevel
{
    public required int Bitrate { get; init; }

    public required string FourCC { get; init; }

    public required string CodecPrivateData { get; init; }

    public int MaxWidth { get; init; }

    public int MaxHeight { get; init; }

    public int SamplingRate { get; init; }

    public int Channels { get; init; }

    public int BitsPerSample { get; init; }

    public int PacketSize { get; init; }

    public int AudioTag { get; init; }
}

/// <summary>MS-SSTR 2.2.2.3 StreamIndex.</summary>
public sealed record ClientStreamIndex
{
    /// <summary>"video", "audio" or "text".</summary>
    public required string Type { get; init; }

    public required string Name { get; init; }

    public required long TimeScale { get; init; }

    public string? Language { get; init; }

    public required IReadOnlyList<ClientQualityLevel> Levels { get; init; }

    public required IReadOnlyList<Chunk> Chunks { get; init; }

    /// <summary>Subtype of a sparse stream (MS-SSTR 2.2.2.3), e.g. "DATA"; null for audio and video.</summary>
    public string? Subtype { get; init; }

    /// <summary>The StreamIndex a sparse stream belongs to (ParentStreamIndex), e.g. "video".</summary>
    public string? ParentStreamIndex { get; init; }

    /// <summary>ManifestOutput: the chunks' data is in the manifest itself, not fetched as fragments.</summary>
    public bool ManifestOutput { get; init; }
}

/// <summary>MS-SSTR 2.2.2.1 SmoothStreamingMedia.</summary>
public sealed record ClientManifest
{
    public const long DefaultTimeScale = 10_000_000;

    public required bool IsLive { get; init; }

    /// <summary>Presentation duration (VOD), in <see cref="DefaultTimeScale"/> units; 0 while live.</summary>
    public long Duration { get; init; }

    /// <summary>DVR window in <see cref="DefaultTimeScale"/> units (live only).</summary>
    public long DvrWindowLength { get; init; }

    public int LookAheadFragmentCount { get; init; }

    public required IReadOnlyList<ClientStreamIndex> Streams { get; init; }
}

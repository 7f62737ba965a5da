namespace PublishingPoint.Benchmarks.Repackage;

/// <summary>One rung of the test ladder, pushed as its own Smooth stream; the top one carries the audio.</summary>
internal sealed record Rendition(string Name, int Width, int Height, int VideoKbps, bool WithAudio)
{
    public const int AudioKbps = 128;
    public const int FrameRate = 25;
    public const int Gop = 50;

    public static IReadOnlyList<Rendition> Ladder { get; } =
    [
        new("r720p", 1280, 720, 3000, WithAudio: true),
        new("r480p", 854, 480, 1200, WithAudio: false),
        new("r360p", 640, 360, 600, WithAudio: false),
    ];
}

/// <summary>The files of one rendition: what is POSTed (ismv as the encoder streams it) and ffmpeg's remux input (video + the audio).</summary>
internal sealed record RenditionInput(Rendition Rendition, string IngestFile, string RemuxInputFile);

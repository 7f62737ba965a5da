using Microsoft.Extensions.Options;

namespace PublishingPoint.Server.Hosting;

/// <summary>The "PublishingPoint" section of appsettings.json.</summary>
public sealed record PublishingPointOptions
{
    public const string Section = "PublishingPoint";

    /// <summary>Where archives and VOD manifests live; relative paths are under the content root.</summary>
    public string DataPath { get; set; } = "data";

    /// <summary>How much of the past a live manifest exposes, and how much fragment data stays in memory.</summary>
    public int DvrWindowSeconds { get; set; } = 300;

    /// <summary>Fragments announced ahead in a live fragment's 'tfrf' and in the manifest's LookAheadFragmentCount.</summary>
    public int LookAheadFragmentCount { get; set; } = 2;

    /// <summary>Largest single box an encoder may send (an 'mdat' is the usual largest).</summary>
    public long MaxBoxBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// How long a point stays live after its last encoder disconnected without sending 'mfra', so a reconnect
    /// (or the next POST of a one-POST-per-segment encoder) continues it; 0 finalises at once.
    /// </summary>
    public int FinalizeGraceSeconds { get; set; } = 10;

    /// <summary>Target fragment length when cutting MPEG-TS ingest (at the first keyframe at or after it).</summary>
    public double TsFragmentSeconds { get; set; } = 2;

    /// <summary>fsync the archive after every fragment before it is indexed (durable before visible).</summary>
    public bool FsyncArchive { get; set; } = true;
}

internal sealed class PublishingPointOptionsValidator : IValidateOptions<PublishingPointOptions>
{
    public ValidateOptionsResult Validate(string? name, PublishingPointOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.DataPath))
        {
            failures.Add("PublishingPoint:DataPath must be set.");
        }

        if (options.DvrWindowSeconds is < 10 or > 7 * 24 * 3600)
        {
            failures.Add("PublishingPoint:DvrWindowSeconds must be between 10 and 604800.");
        }

        if (options.LookAheadFragmentCount is < 0 or > 10)
        {
            failures.Add("PublishingPoint:LookAheadFragmentCount must be between 0 and 10.");
        }

        if (options.MaxBoxBytes is < 64 * 1024 or > 1024L * 1024 * 1024)
        {
            failures.Add("PublishingPoint:MaxBoxBytes must be between 65536 and 1073741824.");
        }

        if (options.TsFragmentSeconds is < 0.5 or > 60)
        {
            failures.Add("PublishingPoint:TsFragmentSeconds must be between 0.5 and 60.");
        }

        if (options.FinalizeGraceSeconds is < 0 or > 3600)
        {
            failures.Add("PublishingPoint:FinalizeGraceSeconds must be between 0 and 3600.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

namespace PublishingPoint.Server.Configuration;

/// <summary>Where the publisher copies each point's HLS and DASH output.</summary>
public enum PublishTarget
{
    /// <summary>Nothing is published: players read from the origin.</summary>
    None,

    /// <summary>A folder (a static web server, nginx, a mounted share serves it).</summary>
    FileSystem,

    /// <summary>An S3 bucket, or any S3-compatible object store.</summary>
    S3,
}

/// <summary>Output formats the publisher uploads.</summary>
public enum PublishFormat
{
    /// <summary>HLS: master.m3u8 (TS) and master-fmp4.m3u8 (CMAF), media playlists, segments, init segments.</summary>
    Hls,

    /// <summary>DASH: manifest.mpd over the CMAF segments (shared with HLS fMP4).</summary>
    Dash,
}

/// <summary>The "PublishingPoint:Publish" section: copy live and VOD output to object storage as it completes.</summary>
public sealed record PublishOptions
{
    public PublishTarget Target { get; set; } = PublishTarget.None;

    /// <summary>FileSystem: the folder objects are written under (a relative path is resolved as DataPath: under $STATE_DIRECTORY, else the working directory).</summary>
    public string? Path { get; set; }

    public S3PublishOptions S3 { get; set; } = new();

    /// <summary>Only points whose path starts with this ("live/") are published; empty publishes every point.</summary>
    public string PointPrefix { get; set; } = string.Empty;

    /// <summary>Keep every segment in the store so the event stays there as VOD (true); false deletes segments that leave the live window.</summary>
    public bool KeepSegmentsForVod { get; set; } = true;

    /// <summary>Which outputs to publish; empty means both.</summary>
    public IList<PublishFormat> Formats { get; } = [];

    /// <summary>Objects waiting (over all points) past which the publisher warns and reports the store as behind; nothing is dropped.</summary>
    public int MaxBacklog { get; set; } = 1000;

    /// <summary>Cache-Control max-age of live playlists and MPDs, in seconds.</summary>
    public int LivePlaylistMaxAge { get; set; } = 1;

    /// <summary>Cache-Control max-age of VOD playlists and MPDs, in seconds.</summary>
    public int VodPlaylistMaxAge { get; set; } = 3600;

    /// <summary>Points whose publishing passes run at once; the others wait their turn (a pass repackages and uploads what the store lacks).</summary>
    public int MaxConcurrentPasses { get; set; } = 4;

    /// <summary>Longest wait between retries of a failing store operation (the backoff doubles from 0.5 s up to this).</summary>
    public double MaxRetryDelaySeconds { get; set; } = 30;

    /// <summary>UtcTiming URL written into published live MPDs (e.g. the origin's /time); empty writes none.</summary>
    public string? DashTimeUrl { get; set; }

    public bool Publishes(PublishFormat format) => Formats.Count == 0 || Formats.Contains(format);

    public IEnumerable<string> Validate()
    {
        switch (Target)
        {
            case PublishTarget.FileSystem when string.IsNullOrWhiteSpace(Path):
                yield return "PublishingPoint:Publish:Path must be set when Target is FileSystem.";
                break;
            case PublishTarget.S3:
                foreach (var failure in S3.Validate())
                {
                    yield return failure;
                }

                break;
        }

        if (MaxBacklog < 1)
        {
            yield return "PublishingPoint:Publish:MaxBacklog must be at least 1.";
        }

        if (LivePlaylistMaxAge < 0 || VodPlaylistMaxAge < 0)
        {
            yield return "PublishingPoint:Publish:LivePlaylistMaxAge and VodPlaylistMaxAge must be 0 or more.";
        }

        if (MaxConcurrentPasses is < 1 or > 64)
        {
            yield return "PublishingPoint:Publish:MaxConcurrentPasses must be between 1 and 64.";
        }

        if (MaxRetryDelaySeconds is < 0.5 or > 3600)
        {
            yield return "PublishingPoint:Publish:MaxRetryDelaySeconds must be between 0.5 and 3600.";
        }

        if (!string.IsNullOrEmpty(DashTimeUrl) && !Uri.TryCreate(DashTimeUrl, UriKind.Absolute, out _))
        {
            yield return "PublishingPoint:Publish:DashTimeUrl must be an absolute URL.";
        }
    }
}

/// <summary>"PublishingPoint:Publish:S3": the bucket and how to reach it.</summary>
public sealed record S3PublishOptions
{
    /// <summary>Endpoint of an S3-compatible store (MinIO, Ceph, R2, ...); empty uses AWS for <see cref="Region"/>.</summary>
    public string? ServiceUrl { get; set; }

    public string? Bucket { get; set; }

    public string Region { get; set; } = "us-east-1";

    /// <summary>Empty uses the SDK's default credential chain (environment, profile, instance role).</summary>
    public string? AccessKey { get; set; }

    public string? SecretKey { get; set; }

    /// <summary>Prepended to every key ("events/"); the point path follows.</summary>
    public string Prefix { get; set; } = string.Empty;

    /// <summary>bucket in the path (https://host/bucket/key) rather than the host name; most S3-compatible stores need it.</summary>
    public bool ForcePathStyle { get; set; }

    /// <summary>Time limit of one request, in seconds.</summary>
    public int TimeoutSeconds { get; set; } = 30;

    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(Bucket))
        {
            yield return "PublishingPoint:Publish:S3:Bucket must be set when Target is S3.";
        }

        if (!string.IsNullOrEmpty(ServiceUrl) && !Uri.TryCreate(ServiceUrl, UriKind.Absolute, out _))
        {
            yield return "PublishingPoint:Publish:S3:ServiceUrl must be an absolute URL.";
        }

        if (string.IsNullOrEmpty(AccessKey) != string.IsNullOrEmpty(SecretKey))
        {
            yield return "PublishingPoint:Publish:S3:AccessKey and SecretKey are set together (or both left out for the default credentials).";
        }

        if (string.IsNullOrWhiteSpace(Region))
        {
            yield return "PublishingPoint:Publish:S3:Region must be set.";
        }

        if (TimeoutSeconds is < 1 or > 600)
        {
            yield return "PublishingPoint:Publish:S3:TimeoutSeconds must be between 1 and 600.";
        }

        if (Prefix.StartsWith('/'))
        {
            yield return "PublishingPoint:Publish:S3:Prefix must not start with '/'.";
        }
    }
}

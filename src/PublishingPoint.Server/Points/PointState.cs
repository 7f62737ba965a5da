namespace PublishingPoint.Server.Points;

public enum PointState
{
    /// <summary>Known, no fragment yet.</summary>
    Idle,

    /// <summary>At least one encoder connected; manifests are live.</summary>
    Live,

    /// <summary>Every encoder has ended; archives carry their mfra and the VOD manifests are on disk.</summary>
    Vod,
}

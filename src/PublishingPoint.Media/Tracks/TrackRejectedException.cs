namespace PublishingPoint.Media.Tracks;

/// <summary>Why a stream's tracks cannot be named or described.</summary>
public enum TrackRejection
{
    /// <summary>The header lacks something the tracks need (a bitrate).</summary>
    Incomplete,

    /// <summary>Two tracks would have the same name.</summary>
    Conflict,

    /// <summary>No usable track, or a decoder configuration that cannot be read.</summary>
    Unsupported,
}

/// <summary>A stream's header whose tracks cannot be named or described; the message is safe to send back.</summary>
public sealed class TrackRejectedException : Exception
{
    public TrackRejectedException()
    {
    }

    public TrackRejectedException(string message) : base(message)
    {
    }

    public TrackRejectedException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public TrackRejectedException(TrackRejection reason, string message) : base(message) => Reason = reason;

    public TrackRejection Reason { get; }
}

namespace PublishingPoint.Benchmarks.Live;

/// <summary>One live channel's encoder as the live benchmarks watch it: did it stop early, did it fall behind.</summary>
internal interface ILiveEncoder : IAsyncDisposable
{
    /// <summary>It stopped before it was told to (its POST failed).</summary>
    bool ExitedEarly { get; }

    /// <summary>How far it fell behind the wall clock (the server did not read), beyond its smallest lag, in seconds.</summary>
    double MaxLagSeconds { get; }

    /// <summary>Its last messages (errors).</summary>
    string Messages { get; }
}

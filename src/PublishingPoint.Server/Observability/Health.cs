namespace PublishingPoint.Server.Observability;

/// <summary>Load-balancer probes: /health/live (the process answers) and /health/ready (recovered and the data folder writable).</summary>
public sealed class Health
{
    private volatile bool _recovered;

    public bool Recovered => _recovered;

    public void MarkRecovered() => _recovered = true;

    internal static IResult Ready(Health health, Points.PointRegistry registry)
    {
        if (!health.Recovered)
        {
            return Results.Text("recovering archives\n", statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        try
        {
            var probe = Path.Combine(registry.DataRoot, ".ready-probe");
            File.WriteAllBytes(probe, [1]);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Results.Text($"data folder not writable: {e.Message}\n", statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        return Results.Text("ready\n");
    }
}

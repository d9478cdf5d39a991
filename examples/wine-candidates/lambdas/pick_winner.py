"""The PickWinner step's Lambda function: the better of the candidates, by accuracy."""


def lambda_handler(event, context):
    scores = {name: float(accuracy) for name, accuracy in event.items()}
    winner = max(sorted(scores), key=lambda name: scores[name])
    print(f"candidates {scores}: {winner} wins")
    return {"winner": winner, "accuracy": scores[winner]}
